"""An example Greenroom plugin."""
