"""Backbones (one timm factory) and hypercolumn sampling."""
