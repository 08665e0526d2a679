"""asva.web"""
