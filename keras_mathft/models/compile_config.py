"""`.keras` saving shared by the solver and the reward model."""

import keras


def deserialize_nested(config, *names):
    """A copy of a `get_config` dict with its named sub-objects revived.

    Args:
        config: dict, from `get_config`.
        *names: keys holding serialized Keras objects (`None` stays).

    Returns:
        A dict for `cls(**...)`.
    """
    config = dict(config)
    for name in names:
        if config.get(name) is not None:
            config[name] = keras.saving.deserialize_keras_object(config[name])
    return config


class CompileOptionsMixin:
    """Saves a custom `compile`'s options so that loading compiles alike.

    Keras saves `compile` arguments only for models with the standard
    `compile`; it warns and leaves a loaded model uncompiled otherwise. A
    model with this mixin returns its extra options (objective, evaluator
    loss, margin, ...) from `_compile_options()`; they are saved next to
    the optimizer and passed back to `compile` on load.
    """

    def _compile_options(self):
        raise NotImplementedError

    def get_compile_config(self):
        config = super().get_compile_config()
        if not config:  # Not compiled: Keras returns {} (older: None).
            return config
        # The loss is computed by the model itself, never passed in.
        config = {k: v for k, v in config.items() if k != "loss"}
        config.update(self._compile_options())
        return config

    def compile_from_config(self, config):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"])
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)
