import sys

from keras_dbal.cli import main

sys.exit(main())
