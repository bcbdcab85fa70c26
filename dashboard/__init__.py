"""The Streamlit dashboard over the incident store."""
