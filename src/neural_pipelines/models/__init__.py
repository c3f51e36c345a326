"""Keras model builders: parameters in, compiled ``keras.Model`` out, nothing else."""
