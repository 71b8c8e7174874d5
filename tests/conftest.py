import sys
from pathlib import Path

# Reference code kept beside the tests (the seed notebooks' own loops) is imported as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
