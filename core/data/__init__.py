"""Readers for real dataset layouts (and our synthetic copies of them), and identity sampling."""

from core.data.annotations import Annotation, read_annotations, read_sequence_annotation, with_annotations
from core.data.face import read_face_folder, read_face_split
from core.data.market import (
    MarketImages,
    check_market_layout,
    load_images,
    load_market,
    market_name,
    parse_name,
    read_market,
    read_split,
)  # fmt: skip
from core.data.opengait import load_sequence, normalise_silhouette, read_opengait
from core.data.records import Sample
from core.data.sampler import PKSampler

__all__ = [
    "Annotation", "MarketImages", "PKSampler", "Sample", "check_market_layout", "load_images", "load_market",
    "load_sequence", "market_name",
    "normalise_silhouette", "parse_name", "read_annotations", "read_face_folder", "read_face_split",
    "read_market", "read_opengait", "read_sequence_annotation", "read_split", "with_annotations",
]  # fmt: skip
