"""`jobterm cp`: files and directories in and out of a running job, over its terminal."""
