from evnetd.cli.evnetd_main import main

raise SystemExit(main())
