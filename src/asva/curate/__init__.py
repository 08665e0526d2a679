"""asva.curate"""
