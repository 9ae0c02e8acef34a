"""The application: the Tagger API, the postag command, the tokenizer, the console."""
