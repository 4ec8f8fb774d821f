"""sphinx-gallery image scraper for xpnet's examples.

xpnet draws on matplotlib Agg canvases (no pyplot state), so sphinx-gallery's matplotlib
scraper sees no figure; the examples save PNGs instead, and this scraper collects them.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class XpnetPNGScraper:
    """Move each PNG an example saved beside itself into the gallery's image folder."""

    def __repr__(self):  # sphinx-gallery keys its cache on the repr
        return "XpnetPNGScraper"

    def __call__(self, block, block_vars, gallery_conf, **kwargs):
        from sphinx_gallery.scrapers import figure_rst

        src_dir = Path(block_vars["src_file"]).parent
        image_paths = []
        for png, target in zip(sorted(src_dir.glob("*.png")), block_vars["image_path_iterator"]):
            shutil.move(str(png), target)
            image_paths.append(target)
        return figure_rst(image_paths, gallery_conf["src_dir"])


#: What ``sphinx_gallery_conf["image_scrapers"]`` names (an instance: sphinx-gallery calls it).
png_scraper = XpnetPNGScraper()
