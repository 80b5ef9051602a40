from cococtl.cli import main

main()
