"""A trained tagger outside its training stack: ``export`` writes its network as ONNX with
its vocabularies in plain files (needs torch), and ``runtime.OnnxTagger`` tags with them
using only onnxruntime and numpy."""

# What `postag export` writes into its directory, and the version of that layout
MODEL_FILE = "model.onnx"
SETTINGS_FILE = "tagger.json"
FORMAT_VERSION = 2
