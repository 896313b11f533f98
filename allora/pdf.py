"""HTML to PDF: the one place the project calls WeasyPrint."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import weasyprint
from weasyprint.urls import URLFetcher


class LocalOnlyFetcher(URLFetcher):
    """Fetches data: URLs and files under the base directory, nothing else: the documents embed
    user-supplied text (and signature drawings), so rendering must never reach the network or
    read arbitrary files."""

    def __init__(self, base_dir: Path | None):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)
        self.base_dir = base_dir.resolve() if base_dir else None

    def fetch(self, url, headers=None):
        if url.lower().startswith("file:"):
            path = Path(unquote(urlsplit(url).path)).resolve()
            if self.base_dir is None or not path.is_relative_to(self.base_dir):
                raise ValueError(f"Refusing to read a file outside the base directory: {url}")
        return super().fetch(url, headers)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF bytes of an HTML document; relative URLs resolve against ``base_url``."""
    base_dir = Path(base_url) if base_url and "://" not in base_url else None
    return weasyprint.HTML(
        string=html, base_url=base_url, url_fetcher=LocalOnlyFetcher(base_dir)
    ).write_pdf()
