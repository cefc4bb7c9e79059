"""Readers for real dataset layouts (and our synthetic copies of them), and identity sampling."""

from core.data.face import read_face_folder
from core.data.gait import load_sequence, normalise_silhouette, read_opengait
from core.data.market import market_name, parse_name, read_market, read_split
from core.data.records import Sample
from core.data.sampler import PKSampler

__all__ = [
    "PKSampler", "Sample", "load_sequence", "market_name", "normalise_silhouette", "parse_name",
    "read_face_folder", "read_market", "read_opengait", "read_split",
]  # fmt: skip
