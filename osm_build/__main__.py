from osm_build.cli import main

main()
