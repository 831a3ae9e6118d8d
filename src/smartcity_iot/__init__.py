"""smartcity-iot: smart dog tags and sidewalk-parking cameras for urban-management bureaus."""

__version__ = "0.1.0"
