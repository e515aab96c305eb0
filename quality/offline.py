"""Make a Data Docs site render with no network: the CDN links of GX's page templates point at
local copies unpacked from WebJars (`infra/jvm/webjars.xml`, resolved by `etl jars` into
`ETL_LIB_DIR/webjars`).

`CDN_FILES` maps each URL GX 1.24's templates load (found by reading its installed templates:
`render/view/templates/*.j2`) to the file of the same library and version inside its WebJar. A
script or stylesheet whose library the pages do not need for validation results (vega, used by
profiling charts; the optional dark theme) is removed, and so is GX's logo (an image on S3;
its alt text stays).
`integrity`/`crossorigin` attributes go too: they are for CDNs, and a `crossorigin` script
fails to load from file://.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from etl.errors import PrerequisiteMissing

#: where a report's copies live, relative to the site's root
VENDOR = "static/vendor"
_WEBJAR_ROOT = "META-INF/resources/webjars/"

CDN_FILES: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap/4.3.1/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap/4.3.1/js/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js/1.12.9/umd/popper.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table/1.19.1/dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table/1.19.1/dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table/1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.js"
    ),
    # the templates name 1.19.0 for this one file; 1.19.1's is the same stylesheet
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "bootstrap-table/1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "bootstrap-table/1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "font-awesome/6.6.0/css/all.min.css"
    ),
}

#: CDN files the report does without: vega (profiling charts), the optional dark theme.
DROPPED: frozenset[str] = frozenset(
    {
        "https://cdn.jsdelivr.net/npm/vega@5",
        "https://cdn.jsdelivr.net/npm/vega-lite@5",
        "https://cdn.jsdelivr.net/npm/vega-embed@6",
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
        "bootstrap-prefers-dark.css",
    }
)

_TAG = re.compile(r"<(script|link)\b[^>]*?\b(?:src|href)=\"(https?://[^\"]+)\"[^>]*>(?:</script>)?")
_CDN_ATTRS = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"")
_REMOTE_IMG = re.compile(r"<img\b[^>]*?\bsrc=\"https?://[^\"]+\"[^>]*>")
_ALT = re.compile(r"\balt=\"([^\"]*)\"")
_REMOTE_CSS_URL = re.compile(r"url\(['\"]?https?://[^)]+\)")


def unpack_webjars(webjars_dir: Path, site: Path) -> None:
    """Copy every WebJar's web resources under `site/static/vendor/<library>/<version>/`."""
    jars = sorted(webjars_dir.glob("*.jar"))
    if not jars:
        raise PrerequisiteMissing(
            f"no WebJars in {webjars_dir} (Data Docs' CSS/JS): run `etl jars` (or `make jars`)"
        )
    target = site / VENDOR
    for jar in jars:
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if not name.startswith(_WEBJAR_ROOT) or name.endswith(("/", ".gz", ".map")):
                    continue
                path = target / name[len(_WEBJAR_ROOT) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(name))


def _localise(html: str, prefix: str) -> str:
    def swap(match: re.Match[str]) -> str:
        local = CDN_FILES.get(match.group(2))
        if local is None:
            return ""  # in DROPPED, or a CDN file a newer GX added (tests catch those)
        tag = _CDN_ATTRS.sub("", match.group(0))
        return tag.replace(match.group(2), f"{prefix}{VENDOR}/{local}")

    # GX's logo (an S3 image, in an <img> and in the dark theme's CSS): its alt text shows
    def alt_text(match: re.Match[str]) -> str:
        alt = _ALT.search(match.group(0))
        return alt.group(1) if alt else ""

    return _REMOTE_CSS_URL.sub("none", _REMOTE_IMG.sub(alt_text, _TAG.sub(swap, html)))


def make_offline(site: Path, webjars_dir: Path) -> int:
    """Point every page of the site at local copies; return the number of pages rewritten."""
    unpack_webjars(webjars_dir, site)
    pages = 0
    for page in site.rglob("*.html"):
        depth = len(page.relative_to(site).parts) - 1
        html = page.read_text(encoding="utf-8")
        localised = _localise(html, "../" * depth)
        if localised != html:
            page.write_text(localised, encoding="utf-8")
            pages += 1
    return pages
