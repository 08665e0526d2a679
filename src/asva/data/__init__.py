"""asva.data"""
