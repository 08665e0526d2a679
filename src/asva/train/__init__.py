"""asva.train"""
