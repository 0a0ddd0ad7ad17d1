"""Saving: Keras-layout HDF5 files and JSON configs."""
