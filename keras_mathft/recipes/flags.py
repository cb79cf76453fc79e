"""absl flags made from `RecipeConfig`'s fields, one flag per field.

Each flag takes its field's name, default and help text (the field's
`metadata["help"]`, `recipes.settings`), its type from the annotation
and, for the fields of `CHOICES`, its values.
"""

import dataclasses
import typing

from absl import flags

from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.settings import CHOICES
from keras_mathft.recipes.settings import SECTIONS
from keras_mathft.recipes.settings import SIZES


def define_flags(flag_values=flags.FLAGS):
    """Defines one flag per `RecipeConfig` field, plus `--quick`."""
    for cls in SECTIONS.values():
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            _define(field, hints[field.name], flag_values)
    flags.DEFINE_bool(
        "quick", False, "Shorthand for --size=quick.", flag_values=flag_values
    )


def _define(field, kind, flag_values):
    name, default = field.name, field.default
    help_text = field.metadata["help"]
    if name in SIZES["default"]:
        help_text += " Default: from --size."
    if name in CHOICES:
        define, extra = flags.DEFINE_enum, (CHOICES[name],)
    elif kind is bool:
        define, extra = flags.DEFINE_bool, ()
    elif kind is int or int in typing.get_args(kind):
        define, extra = flags.DEFINE_integer, ()
    elif kind is float or float in typing.get_args(kind):
        define, extra = flags.DEFINE_float, ()
    else:
        define, extra = flags.DEFINE_string, ()
    define(name, default, *extra, help_text, flag_values=flag_values)


def config_from_flags(flag_values=flags.FLAGS):
    """Builds (and so checks) a `RecipeConfig` from parsed flags.

    Raises:
        ValueError: for any setting that does not fit, with what to change.
    """
    values = {
        name: flag_values[name].value for name in RecipeConfig.field_names()
    }
    if flag_values["quick"].value:
        if flag_values["size"].present and values["size"] != "quick":
            raise ValueError(
                "--quick is --size=quick; drop one of them. Received: "
                f"--quick and --size={values['size']}"
            )
        values["size"] = "quick"
        if not flag_values["run_dir"].present:
            values["run_dir"] = "runs/quick"
    return RecipeConfig(**values)
