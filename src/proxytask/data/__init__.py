"""Data layer: find and verify LFW, list image folders, decode and crop once into a cache."""
