"""Run models without TensorFlow and hand frozen graphs back to TensorFlow.

``run`` evaluates a frozen GraphDef, a SavedModel or an ``.onnx`` file through
onnxruntime or onnx's reference evaluator; ``saved_model`` writes a frozen
graph as a TF1 SavedModel; ``check`` compares a graph with its frozen form.
"""
