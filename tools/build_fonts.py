"""Build the bundled caption fonts in reelflow/assets/fonts/ from Fontsource npm packages.

Run once by a maintainer (the result is committed; nothing downloads fonts at run time):

    python tools/build_fonts.py [--cache DIR]

Fontsource publishes each Noto family, unchanged apart from splitting, as WOFF files per script
("chinese-simplified", "devanagari", ...). Each script file keeps its layout tables (GSUB/GPOS),
so conjuncts, Thai marks and emoji sequences still shape. This script fetches the packages with
`npm pack`, decompresses the one script file we need (WOFF is zlib, no brotli needed), drops
hinting and vertical-layout tables libass never uses, and writes a plain TTF libass can load.
All of these fonts are under the SIL Open Font License 1.1 (see FONTS.md).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

OUT_DIR = Path(__file__).resolve().parents[1] / "reelflow" / "assets" / "fonts"

# (npm package, file inside its "files/" folder, output file name)
FONTS = (
    (
        "@fontsource/noto-sans-sc@5.3.1",
        "noto-sans-sc-chinese-simplified-700-normal.woff",
        "NotoSansSC-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-tc@5.3.0",
        "noto-sans-tc-chinese-traditional-700-normal.woff",
        "NotoSansTC-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-jp@5.3.0",
        "noto-sans-jp-japanese-700-normal.woff",
        "NotoSansJP-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-kr@5.3.0",
        "noto-sans-kr-korean-700-normal.woff",
        "NotoSansKR-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-devanagari@5.3.0",
        "noto-sans-devanagari-devanagari-700-normal.woff",
        "NotoSansDevanagari-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-bengali@5.3.0",
        "noto-sans-bengali-bengali-700-normal.woff",
        "NotoSansBengali-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-tamil@5.3.0",
        "noto-sans-tamil-tamil-700-normal.woff",
        "NotoSansTamil-Bold.ttf",
    ),
    (
        "@fontsource/noto-sans-thai@5.3.0",
        "noto-sans-thai-thai-700-normal.woff",
        "NotoSansThai-Bold.ttf",
    ),
    # Monochrome outlines: libass draws glyf outlines only, not colour bitmaps (CBDT) or COLR.
    ("@fontsource/noto-emoji@5.3.2", "noto-emoji-emoji-400-normal.woff", "NotoEmoji-Regular.ttf"),
)
_DROP_TABLES = ["vhea", "vmtx", "STAT", "BASE", "gasp"]


def fetch(package: str, cache: Path) -> Path:
    """The npm tarball of `package` in `cache`, packed with `npm pack` if not there yet."""
    name = package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    version = package.rsplit("@", 1)[1]
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", package, "--silent"], cwd=cache, check=True)
    return tarball


def convert(tarball: Path, member: str, out: Path) -> None:
    """Decompress one WOFF of `tarball` to a hint-free TTF at `out`, keeping every glyph."""
    with tarfile.open(tarball) as tar, tempfile.TemporaryDirectory() as tmp:
        source = tar.extractfile(f"package/files/{member}")
        assert source is not None, member
        woff = Path(tmp) / member
        woff.write_bytes(source.read())
        font = TTFont(woff)
    options = subset.Options()
    options.hinting = False  # libass renders unhinted outlines; hints only add bytes
    options.drop_tables += _DROP_TABLES
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.glyph_names = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=font.getBestCmap().keys())
    subsetter.subset(font)
    _rename(font, out.stem)
    font.flavor = None
    font.save(out)


def _rename(font: TTFont, stem: str) -> None:
    """Name the font as its file: Fontsource's CJK instances are called "Noto Sans SC Thin"
    (styled Bold), which is not the family a caption style asks libass for."""
    family = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=Sans)(?=[A-Z])", " ", stem.split("-")[0])
    style = stem.split("-")[1]
    names = font["name"]
    names.names = [n for n in names.names if n.nameID not in (1, 2, 4, 6, 16, 17)]
    for name_id, value in ((1, family), (2, style), (4, f"{family} {style}"), (6, stem)):
        names.setName(value, name_id, 3, 1, 0x409)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="folder for the npm tarballs (kept)")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="fontsource-"))
    cache.mkdir(parents=True, exist_ok=True)
    for package, member, name in FONTS:
        out = OUT_DIR / name
        convert(fetch(package, cache), member, out)
        print(f"{name}: {out.stat().st_size / 1e6:.2f} MB from {package}")


if __name__ == "__main__":
    main()
