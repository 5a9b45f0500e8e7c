"""An emulator of the Klarna OSM API, for builds and tests that cannot reach Klarna."""
