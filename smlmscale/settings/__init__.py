"""Stage settings: frozen dataclasses whose fields carry their limits, unit and help.

Every stage's settings are a frozen dataclass built from :class:`Settings`; each field is
declared with :func:`setting`, which records in ``field(metadata=...)`` what the one
shared :func:`check` enforces and what the command line shows::

    @dataclass(frozen=True)
    class TrainSettings(Settings):
        epochs: int = setting(50, min=1, help="Last epoch to train to")
        lr: float = setting(1e-3, min=0, min_open=True, help="Initial learning rate of Adam")

- :func:`check` (run by ``__post_init__``) checks every field against its annotation
  (``int``, ``float``, ``bool``, ``str``, tuples, ``X | None``, nested settings) and its
  ``min``/``max``/``choices``, coercing ``int`` to ``float`` and lists to tuples;
- :meth:`Settings.from_mapping` builds settings from a (nested) mapping such as a YAML
  file or a stored record, naming every unknown key, and :meth:`Settings.to_mapping`
  writes them back as plain values; :meth:`Settings.diff` lists what differs;
- :func:`option_help` writes an option's help with its default, from the field, so help
  and code cannot drift.

Errors are :class:`~smlmscale.errors.InputError` with ``param`` set to the field's name
and ``{flag}`` in the message; the flag defaults to :func:`flag_of`, and the CLI maps the
parameter to the option it was given by.
"""

from smlmscale.settings.base import Settings, unknown_keys
from smlmscale.settings.check import check
from smlmscale.settings.fields import (default_of, field_meta, field_names, fields_of, flag_of,
                                       setting, split_optional, type_hints)
from smlmscale.settings.help import option_help, shown_default

__all__ = ["Settings", "check", "default_of", "field_meta", "field_names", "fields_of",
           "flag_of", "option_help", "setting", "shown_default", "split_optional",
           "type_hints", "unknown_keys"]
