"""postag: a hand-built Transformer encoder that tags CoNLL-2000 with Penn Treebank POS tags."""

__version__ = "0.1.0"
