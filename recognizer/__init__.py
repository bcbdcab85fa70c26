"""The SlowFast recognizer: normal, falling or lying for one person's tubelet."""
