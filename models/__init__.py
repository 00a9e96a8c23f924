"""Your model: the code TFX packages and runs for you, and the schema it is judged against.

features.py names the columns and their roles, preprocessing.py is the Transform's
`preprocessing_fn`, model.py builds the network, trainer.py is the Trainer's `run_fn`,
evaluation.py says which metrics and slices the Evaluator gates on, and schema/ holds the
curated schema and the drift thresholds. This package imports nothing of the template but
`core`, so it can be replaced wholesale.
"""

import core  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow
