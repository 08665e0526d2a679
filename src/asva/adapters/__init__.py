"""asva.adapters"""
