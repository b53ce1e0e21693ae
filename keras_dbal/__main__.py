import sys

from keras_dbal.tools.cli import main

sys.exit(main())
