"""The study layer: a whole comparison as a typed plan (:mod:`.plan`) made from its settings
(:mod:`.settings`, :mod:`.presets`, :mod:`.analyses`), run stage by stage through the executors
(:mod:`.run`, :mod:`.executors`) in a folder whose files :mod:`.folder` names, its records turned
into aggregates and paired comparisons (:mod:`.results`) for the report."""
