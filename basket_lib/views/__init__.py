"""Pure presentation for the pages: tables, text, time formatting and charts."""
