"""Files to documents: finding sources, decoding bytes, front matter, dates, HTML to text."""
