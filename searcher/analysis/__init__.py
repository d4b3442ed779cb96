"""Text to terms, shared by every back end.

Folding, jieba segmentation, tokens, synonyms and pinyin.
"""
