"""Reports: tables, CSV and JSON of results, and timeline pictures. Formatting only; nothing here models."""
