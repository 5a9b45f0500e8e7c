"""Print the byte size of osm-beacon.js as served: plain, and gzipped at levels 6 and 9.

Run: python bench/beacon_size.py [PATH]. PATH defaults to templates/osm-beacon.js. Level 6 is
the gzip command's default; level 9 is what tests/browser checks against the 2048-byte budget.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

BUDGET_BYTES = 2048
DEFAULT_SCRIPT = Path(__file__).resolve().parents[1] / "templates" / "osm-beacon.js"


def main() -> None:
    """Print the sizes and the share of the gzip budget that the script uses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_SCRIPT, help="script to measure")
    arguments = parser.parse_args()

    content = arguments.path.read_bytes()
    gzip6 = len(gzip.compress(content, compresslevel=6))
    gzip9 = len(gzip.compress(content, compresslevel=9))
    print(f"{arguments.path.name}")
    print(f"  plain:        {len(content):6d} bytes")
    print(f"  gzip level 6: {gzip6:6d} bytes")
    print(f"  gzip level 9: {gzip9:6d} bytes ({gzip9 / BUDGET_BYTES:.0%} of the {BUDGET_BYTES}-byte budget)")


if __name__ == "__main__":
    main()
