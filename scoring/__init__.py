"""Wikitext and a per-wiki model bundle in, link recommendations out. No service I/O here.

    bundle = load_bundle(models_dir, "elwiki")              # memory-mapped, milliseconds
    result = recommend(wikitext, title=..., page_id=..., rev_id=..., bundle=bundle)
    result.gelr.to_json()                                    # GrowthExperiments' gelr_data

A worker serving many wikis keeps a ``BundleCache``. Note: ``scoring.recommend`` is the function;
import the module's other names with ``from scoring.recommend import ...``.
"""

from scoring.bundle import Bundle, BundleCache, BundleError, load_bundle
from scoring.gelr import Gelr, GelrLink
from scoring.recommend import ArticleTooLarge, Recommendation, recommend

__all__ = [
    "ArticleTooLarge",
    "Bundle",
    "BundleCache",
    "BundleError",
    "Gelr",
    "GelrLink",
    "Recommendation",
    "load_bundle",
    "recommend",
]
