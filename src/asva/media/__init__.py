"""asva.media"""
