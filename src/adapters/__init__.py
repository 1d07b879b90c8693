"""Adapters: one package per outside thing that fills an orchcore port."""
