"""One module per `foleystudio` sub-command; each has `add_parser(subparsers)` setting `run`."""
