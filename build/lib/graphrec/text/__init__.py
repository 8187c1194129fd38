"""Text featurizers: raw strings of a text node type -> model inputs, chosen per node type.

This package is the boundary between text and graph. A featurizer has two halves:

* data side (:func:`graphrec.text.featurize.featurize_graph`): a source stores raw strings as
  ``graph[node_type].text``; the node type's featurizer turns them into tensors on the node
  (``tokens`` for ``hashed_bow``, ``text_emb`` for ``sentence_transformer``);
* model side (:func:`graphrec.text.inputs.build_text_input`): a module that maps those tensors to
  the node's initial ``[N, hidden]`` vector, described by a plain spec
  (:func:`graphrec.text.inputs.text_input_spec`) that is saved in the checkpoint.

A new text encoder (e.g. a fine-tuned language model) adds a featurizer and an input module
here; the GNN code only ever sees the spec and the module.
"""

from graphrec.text.featurize import FEATURIZERS, build_featurizer, featurize_graph
from graphrec.text.inputs import build_text_input, text_input_spec

__all__ = ["FEATURIZERS", "build_featurizer", "build_text_input", "featurize_graph",
           "text_input_spec"]
