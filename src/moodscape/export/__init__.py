"""Export a trained model for phones and servers: ONNX (waveform or log-mel input), int8, TorchScript."""
