"""`make bench`: Backroom measured against bare baselines in the same run. Not collected by pytest."""
