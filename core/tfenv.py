"""The TensorFlow and Keras environment, set before TensorFlow is first imported.

TFX 1.16 and TFMA 0.47 expect Keras 2 (tf-keras); TF 2.16 would pick Keras 3 otherwise. Every
package of the template imports `core`, which imports this module, so the order holds whichever
package a process imports first.
"""

import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CUDA plugins on a CPU machine); set it to 0 to debug.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# google-cloud packages warn on every import about future Python support; it is not actionable.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
