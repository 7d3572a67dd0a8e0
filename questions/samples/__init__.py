"""The sample bank shipped for the demo: IP-week questions written for this project."""
from pathlib import Path

IP_WEEK = Path(__file__).with_name("ip_week.csv")
