"""Streamlit code the pages share (imports streamlit; holds no API or business rules)."""
