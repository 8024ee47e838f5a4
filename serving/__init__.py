"""Development tools for serving t2izoo exports: a local TF Serving stand-in and its clients.

Not part of the model zoo: `t2izoo.export` writes the SavedModels, this package serves them
where `tensorflow_model_server` cannot be installed (`python -m serving.server`) and sends
captions to either server (`python -m serving.client`).
"""
