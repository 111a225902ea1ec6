import sys

from ruleopt.cli import main

sys.exit(main())
