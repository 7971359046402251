"""Communiqué: security-cooperation statements in, analysis-ready tables out."""
