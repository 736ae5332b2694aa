// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/TestBase.sol";
import {FARToken} from "../src/FARToken.sol";
import {InferencePayment} from "../src/InferencePayment.sol";
import {MockPriceFeed} from "../src/mocks/MockPriceFeed.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";

/// One named test (or more) per defect of the original spec, each showing the fixed contracts
/// refuse the defect. See DESIGN.md, "Contracts", fixes 1-6.
contract FixesTest is Fixture {
    uint256 internal constant CAP = 1_000_000_000 ether;

    // =====================================================================================
    // Fix 1 - supply cap. The spec minted MAX_SUPPLY at deploy and minted rewards on top.
    // =====================================================================================

    function test_Fix1_SupplyCap_ConstructorCannotMintAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, CAP + 1, CAP));
        new FARToken(admin, CAP + 1, LOCK);
    }

    /// The spec's deployment (whole cap minted up front) leaves no room for rewards: claiming
    /// mints nothing, the reward stays accrued, and only burnt supply can be re-minted.
    function test_Fix1_SupplyCap_SpecFullMintThenRewardsStayAccrued() public {
        FARToken t = new FARToken(admin, CAP, LOCK);
        vm.startPrank(admin);
        t.stake(100_000_000 ether);
        vm.warp(block.timestamp + YEAR); // 1% of 100M = 1M accrued
        (uint256 reward,) = t.claimable(admin);
        assertEq(reward, 1_000_000 ether);

        vm.expectRevert(FARToken.NothingToClaim.selector);
        t.claimRewards();
        assertEq(t.totalSupply(), CAP);

        t.burn(10 ether); // frees 10 FAR of headroom
        vm.expectEmit(true, false, false, true, address(t));
        emit FARToken.RewardsClaimed(admin, 10 ether);
        t.claimRewards();
        vm.stopPrank();
        assertEq(t.totalSupply(), CAP);
        assertEq(t.rewardsEarned(admin), 1_000_000 ether - 10 ether);
    }

    /// High rate, far in the future: the claim mints exactly the headroom and keeps the rest.
    function test_Fix1_SupplyCap_RewardsClaimedNeverExceedCap() public {
        vm.startPrank(admin);
        far.setRewardRate(10_000); // 100% a year, the maximum
        far.stake(400_000_000 ether);
        vm.stopPrank();
        _stake(alice, 1_000_000 ether);
        vm.warp(block.timestamp + 10 * YEAR); // admin accrued 4B FAR, far above the 500M headroom

        vm.prank(alice);
        far.claimRewards(); // 10M, fits
        assertEq(far.balanceOf(alice), 10_000_000 ether);

        uint256 headroom = CAP - far.totalSupply();
        (uint256 accrued,) = far.claimable(admin);
        assertEq(accrued, 4_000_000_000 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsClaimed(admin, headroom);
        vm.prank(admin);
        far.claimRewards();
        assertEq(far.totalSupply(), CAP);
        assertEq(far.rewardsEarned(admin), accrued - headroom);

        // the cap is full: more time accrues more reward but nothing can be minted
        vm.warp(block.timestamp + YEAR);
        vm.expectRevert(FARToken.NothingToClaim.selector);
        vm.prank(alice);
        far.claimRewards();
        (uint256 aliceAccrued,) = far.claimable(alice);
        assertEq(aliceAccrued, 1_000_000 ether);

        // a revenue share is still paid (it is a transfer, not a mint), with no RewardsClaimed
        bytes32 revenueRole = far.REVENUE_ROLE();
        vm.startPrank(admin);
        far.grantRole(revenueRole, admin);
        far.distributeRevenue(401 ether);
        vm.stopPrank();
        vm.recordLogs();
        vm.prank(alice);
        far.claimRewards();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; i++) {
            assertTrue(logs[i].topics[0] != FARToken.RewardsClaimed.selector, "minted above cap");
        }
        assertEq(far.totalSupply(), CAP);
        assertEq(far.balanceOf(alice), 10_000_000 ether + 1 ether);
    }

    function testFuzz_Fix1_SupplyCap_NeverExceeded(uint256 initial, uint256 rate, uint256 amount, uint256 dt) public {
        initial = bound(initial, 1 ether, CAP);
        rate = bound(rate, 0, 10_000);
        amount = bound(amount, 1, initial);
        dt = bound(dt, 1, 50 * YEAR);
        FARToken t = new FARToken(admin, initial, LOCK);
        vm.startPrank(admin);
        t.setRewardRate(rate);
        t.stake(amount);
        vm.warp(block.timestamp + dt);
        (uint256 accrued,) = t.claimable(admin);
        uint256 headroom = CAP - t.totalSupply();
        uint256 expectedMint = accrued < headroom ? accrued : headroom;
        if (expectedMint == 0) {
            vm.expectRevert(FARToken.NothingToClaim.selector);
        }
        t.claimRewards();
        vm.stopPrank();
        assertLe(t.totalSupply(), CAP);
        assertEq(t.totalSupply(), initial + expectedMint);
        assertEq(t.rewardsEarned(admin), expectedMint == 0 ? 0 : accrued - expectedMint);
    }

    // =====================================================================================
    // Fix 2 - escrow solvency. The spec could pay 106% of the cost, never compared the cost
    // with the escrow, and took any score.
    // =====================================================================================

    /// Spec: score 100 pays 66% + 20% + 20% = 106%, the extra 6% taken from other users.
    function test_Fix2_EscrowSolvency_TopScorePaysExactlyTheCost() public {
        _stake(carol, 1000 ether);
        _openTask(alice, _salt(1), 100 ether);
        _deposit(bob, 50 ether); // another user's money sitting in the contract

        _complete(_taskId(alice, 1), node1, 100 ether, 100);
        assertEq(far.balanceOf(node1), 66 ether);
        assertEq(far.undistributedRevenue(), 20 ether);
        assertEq(far.balanceOf(treasury), 14 ether); // the treasury absorbed the +10%
        assertEq(far.balanceOf(address(pay)), 50 ether);
        assertEq(far.balanceOf(address(pay)), pay.totalUserBalances() + pay.totalEscrowed());

        vm.prank(bob);
        pay.withdraw(50 ether); // bob is whole
        assertEq(far.balanceOf(address(pay)), 0);
    }

    /// Spec: an actualCost above the escrow was paid out of other users' deposits.
    function test_Fix2_EscrowSolvency_CostAboveEscrowRejected() public {
        _openTask(alice, _salt(1), 10 ether);
        _deposit(bob, 1000 ether);
        vm.expectRevert(
            abi.encodeWithSelector(InferencePayment.CostExceedsEscrow.selector, _taskId(alice, 1), 500 ether, 10 ether)
        );
        _complete(_taskId(alice, 1), node1, 500 ether, 80);

        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](1);
        s[0] = InferencePayment.Settlement(_taskId(alice, 1), node1, 10 ether + 1, 80);
        vm.expectRevert(
            abi.encodeWithSelector(InferencePayment.CostExceedsEscrow.selector, _taskId(alice, 1), 10 ether + 1, 10 ether)
        );
        vm.prank(oracle);
        pay.completeTasks(s);
        assertEq(far.balanceOf(address(pay)), 1010 ether);
    }

    /// Spec: score 1000 gives adjustment 560, i.e. the node takes 336% of the cost.
    function test_Fix2_EscrowSolvency_UnboundedScoreRejected() public {
        _openTask(alice, _salt(1), 10 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, 1000));
        _complete(_taskId(alice, 1), node1, 10 ether, 1000);

        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](1);
        s[0] = InferencePayment.Settlement(_taskId(alice, 1), node1, 10 ether, 101);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, 101));
        vm.prank(oracle);
        pay.completeTasks(s);
    }

    function testFuzz_Fix2_EscrowSolvency_BalanceCoversLiabilities(uint256 seed, bool withStake) public {
        if (withStake) _stake(carol, 500 ether);
        _deposit(bob, 777 ether);
        for (uint256 i = 0; i < 6; i++) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 escrow = bound(r, 1, 10_000 ether);
            uint256 cost = bound(r >> 64, 0, escrow);
            uint256 score = bound(r >> 128, 0, 100);
            _openTask(alice, _salt(i), escrow);
            _complete(_taskId(alice, i), i % 2 == 0 ? node1 : node2, cost, score);
            assertEq(far.balanceOf(address(pay)), pay.totalUserBalances() + pay.totalEscrowed());
            assertGe(far.balanceOf(address(pay)), pay.userBalances(alice) + pay.userBalances(bob));
        }
        vm.prank(bob);
        pay.withdraw(777 ether);
    }

    // =====================================================================================
    // Fix 3 - every state change emits an event with indexed keys, enough to rebuild state.
    // =====================================================================================

    bytes32 internal constant TRANSFER_SIG = keccak256("Transfer(address,address,uint256)");

    // a tiny indexer, fed only by logs
    mapping(address => uint256) internal ixFar;
    mapping(address => uint256) internal ixUser;
    mapping(address => uint256) internal ixStake;
    mapping(address => uint256) internal ixEarned;
    mapping(address => uint256) internal ixDone;
    mapping(address => uint256) internal ixFailed;
    mapping(address => uint256) internal ixRel;
    mapping(bytes32 => uint256) internal ixEscrow;
    uint256 internal ixRewardRate;
    uint256 internal ixLockPeriod;
    address internal ixTreasury;
    uint256 internal ixTimeout;
    uint256 internal ixSupply;
    uint256 internal ixTotalStaked;
    uint256 internal ixTotalEscrow;

    function _word(bytes memory data, uint256 i) internal pure returns (uint256 w) {
        assembly {
            w := mload(add(data, add(32, mul(i, 32))))
        }
    }

    function _addr(bytes32 topic) internal pure returns (address) {
        return address(uint160(uint256(topic)));
    }

    function _replay(Vm.Log[] memory logs, address token, address payment) internal {
        for (uint256 i = 0; i < logs.length; i++) {
            Vm.Log memory l = logs[i];
            bytes32 sig = l.topics[0];
            if (l.emitter == token) {
                if (sig == TRANSFER_SIG) {
                    assertEq(l.topics.length, 3, "Transfer indexes from and to");
                    address from = _addr(l.topics[1]);
                    address to = _addr(l.topics[2]);
                    uint256 v = _word(l.data, 0);
                    if (from == address(0)) ixSupply += v;
                    else ixFar[from] -= v;
                    if (to == address(0)) ixSupply -= v;
                    else ixFar[to] += v;
                } else if (sig == FARToken.Staked.selector || sig == FARToken.Unstaked.selector) {
                    assertEq(l.topics.length, 2, "staking events index the user");
                    address user = _addr(l.topics[1]);
                    uint256 newBalance = _word(l.data, 1);
                    ixTotalStaked = ixTotalStaked + newBalance - ixStake[user];
                    ixStake[user] = newBalance;
                } else if (sig == FARToken.RewardRateUpdated.selector) {
                    assertEq(_word(l.data, 0), ixRewardRate, "old rate matches");
                    ixRewardRate = _word(l.data, 1);
                } else if (sig == FARToken.LockPeriodUpdated.selector) {
                    assertEq(_word(l.data, 0), ixLockPeriod, "old lock matches");
                    ixLockPeriod = _word(l.data, 1);
                } else if (sig == FARToken.RewardsClaimed.selector || sig == FARToken.RevenueShareClaimed.selector) {
                    assertEq(l.topics.length, 2, "claim events index the user");
                }
            } else if (l.emitter == payment) {
                if (sig == InferencePayment.Deposited.selector || sig == InferencePayment.Withdrawn.selector) {
                    assertEq(l.topics.length, 2);
                    ixUser[_addr(l.topics[1])] = _word(l.data, 1);
                } else if (sig == InferencePayment.TaskCreated.selector) {
                    assertEq(l.topics.length, 3, "TaskCreated indexes taskId and user");
                    ixEscrow[l.topics[1]] = _word(l.data, 0);
                    ixTotalEscrow += _word(l.data, 0);
                    ixUser[_addr(l.topics[2])] = _word(l.data, 1);
                } else if (sig == InferencePayment.TaskCompleted.selector) {
                    assertEq(l.topics.length, 4, "TaskCompleted indexes taskId, user and node");
                    address node = _addr(l.topics[3]);
                    ixTotalEscrow -= ixEscrow[l.topics[1]];
                    ixUser[_addr(l.topics[2])] += _word(l.data, 4); // refund
                    ixEarned[node] += _word(l.data, 1);
                    ixDone[node] += 1;
                    // the split in the event is exact
                    assertEq(_word(l.data, 1) + _word(l.data, 2) + _word(l.data, 3), _word(l.data, 0));
                    assertEq(_word(l.data, 0) + _word(l.data, 4), ixEscrow[l.topics[1]]);
                } else if (sig == InferencePayment.TaskCancelled.selector) {
                    assertEq(l.topics.length, 4, "TaskCancelled indexes taskId, user and node");
                    ixTotalEscrow -= ixEscrow[l.topics[1]];
                    ixUser[_addr(l.topics[2])] += _word(l.data, 0);
                    if (_word(l.data, 1) == 1) ixFailed[_addr(l.topics[3])] += 1;
                } else if (sig == InferencePayment.NodeRegistered.selector) {
                    assertEq(l.topics.length, 3, "NodeRegistered indexes node and owner");
                    ixRel[_addr(l.topics[1])] = _word(l.data, 0);
                } else if (sig == InferencePayment.NodeRatingUpdated.selector) {
                    assertEq(l.topics.length, 2, "NodeRatingUpdated indexes node");
                    assertEq(_word(l.data, 0), ixRel[_addr(l.topics[1])], "old rating matches");
                    ixRel[_addr(l.topics[1])] = _word(l.data, 1);
                } else if (sig == InferencePayment.TreasuryUpdated.selector) {
                    assertEq(l.topics.length, 3, "TreasuryUpdated indexes old and new");
                    assertEq(_addr(l.topics[1]), ixTreasury, "old treasury matches");
                    ixTreasury = _addr(l.topics[2]);
                } else if (sig == InferencePayment.TaskTimeoutUpdated.selector) {
                    ixTimeout = _word(l.data, 1);
                } else if (sig == InferencePayment.NodeDeactivated.selector) {
                    assertEq(l.topics.length, 2, "NodeDeactivated indexes node");
                }
            }
        }
    }

    /// Runs a full lifecycle on fresh contracts while recording every log, rebuilds balances,
    /// stakes, escrows and node stats from the logs alone and compares with the contracts' views.
    function test_Fix3_Events_RebuildEveryBalanceFromEventsAlone() public {
        vm.recordLogs();
        FARToken t = new FARToken(admin, INITIAL_SUPPLY, LOCK);
        InferencePayment p = new InferencePayment(admin, address(t), treasury, address(feed), TIMEOUT);
        address[6] memory who = [alice, bob, carol, node1, node2, treasury];
        vm.startPrank(admin);
        t.grantRole(t.REVENUE_ROLE(), address(p));
        p.grantRole(p.ORACLE_ROLE(), oracle);
        t.setRewardRate(500);
        p.setTaskTimeout(2 days);
        for (uint256 i = 0; i < 3; i++) {
            t.transfer(who[i], USER_FUNDS);
        }
        vm.stopPrank();
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(who[i]);
            t.approve(address(p), type(uint256).max);
        }
        vm.startPrank(oracle);
        p.registerNode(node1, nodeOwner);
        p.registerNode(node2, nodeOwner);
        vm.stopPrank();

        vm.prank(carol);
        t.stake(5000 ether);
        vm.prank(alice);
        p.deposit(1000 ether);
        vm.prank(bob);
        p.deposit(500 ether);
        vm.startPrank(alice);
        p.createTask(_salt(1), 100 ether);
        p.createTask(_salt(2), 200 ether);
        p.createTask(_salt(3), 50 ether);
        vm.stopPrank();
        vm.prank(bob);
        p.createTask(_salt(4), 300 ether);

        vm.prank(oracle);
        p.completeTask(_taskId(alice, 1), node1, 70 ether, 95);
        vm.prank(admin);
        p.setTreasury(nodeOwner); // later treasury shares go to a new address
        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](2);
        s[0] = InferencePayment.Settlement(_taskId(alice, 2), node2, 200 ether, 30);
        s[1] = InferencePayment.Settlement(_taskId(alice, 1), node2, 1 ether, 30); // skipped
        vm.prank(oracle);
        p.completeTasks(s);
        vm.prank(oracle);
        p.failTask(_taskId(alice, 3), node1);
        vm.prank(alice);
        p.createTask(_salt(5), 60 ether);
        InferencePayment.Failure[] memory f = new InferencePayment.Failure[](2);
        f[0] = InferencePayment.Failure(_taskId(alice, 5), node2);
        f[1] = InferencePayment.Failure(_taskId(alice, 3), node2); // skipped
        vm.prank(oracle);
        p.failTasks(f);
        vm.prank(oracle);
        p.updateNodeRating(node1, 42);
        vm.prank(oracle);
        p.deactivateNode(node2);
        vm.warp(block.timestamp + 30 days);
        vm.prank(bob);
        p.cancelTask(_taskId(bob, 4));
        vm.prank(bob);
        p.withdraw(123 ether);
        vm.prank(carol);
        t.claimRewards();
        vm.prank(carol);
        t.unstake(1000 ether);
        vm.prank(alice);
        t.stake(10 ether);

        _replay(vm.getRecordedLogs(), address(t), address(p));

        address[10] memory all = [alice, bob, carol, node1, node2, treasury, admin, address(p), address(t), nodeOwner];
        for (uint256 i = 0; i < all.length; i++) {
            assertEq(ixFar[all[i]], t.balanceOf(all[i]), "FAR balance from Transfer events");
            assertEq(ixUser[all[i]], p.userBalances(all[i]), "user balance from payment events");
            assertEq(ixStake[all[i]], t.stakingBalance(all[i]), "stake from Staked/Unstaked");
        }
        for (uint256 i = 3; i < 5; i++) {
            (,, uint256 done, uint256 rel,,) = p.nodes(who[i]);
            (, uint256 earned,,,, uint256 failed) = p.nodes(who[i]);
            assertEq(ixEarned[who[i]], earned, "node earnings from TaskCompleted");
            assertEq(ixFailed[who[i]], failed, "node failures from TaskCancelled");
            assertEq(failed, 1);
            assertEq(ixDone[who[i]], done, "node task count from TaskCompleted");
            assertEq(ixRel[who[i]], rel, "reliability from NodeRegistered/NodeRatingUpdated");
        }
        assertEq(ixSupply, t.totalSupply(), "supply from mint/burn Transfers");
        assertEq(ixRewardRate, t.rewardRate(), "reward rate from RewardRateUpdated");
        assertEq(ixLockPeriod, t.lockPeriod(), "lock period from LockPeriodUpdated");
        assertEq(ixTreasury, p.treasury(), "treasury from TreasuryUpdated");
        assertEq(ixTimeout, p.taskTimeout(), "timeout from TaskTimeoutUpdated");
        assertEq(ixTotalStaked, t.totalStaked());
        assertEq(ixTotalEscrow, p.totalEscrowed());
        assertGt(ixFar[treasury], 0);
        assertGt(ixFar[nodeOwner], 0);
    }

    function test_Fix3_Events_AdminChangesAreLogged() public {
        vm.startPrank(admin);
        vm.expectEmit(false, false, false, true, address(far));
        emit FARToken.RewardRateUpdated(100, 250);
        far.setRewardRate(250);
        vm.expectEmit(false, false, false, true, address(far));
        emit FARToken.LockPeriodUpdated(LOCK, 1 days);
        far.setLockPeriod(1 days);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.TreasuryUpdated(treasury, bob);
        pay.setTreasury(bob);
        vm.expectEmit(false, false, false, true, address(pay));
        emit InferencePayment.TaskTimeoutUpdated(TIMEOUT, 2 days);
        pay.setTaskTimeout(2 days);
        vm.stopPrank();
    }

    // =====================================================================================
    // Fix 4 - stakers really receive the staker share. The spec sent it to an address and
    // stopped; and a stake placed just before a settlement must not leave right after.
    // =====================================================================================

    function test_Fix4_StakerShare_SandwichStakeCannotLeaveRightAfter() public {
        address attacker = vm.addr(0xBAD);
        vm.prank(admin);
        far.transfer(attacker, 100_000_000 ether + 1);

        _stake(bob, 1000 ether); // honest staker, long before
        vm.warp(block.timestamp + 30 days);
        _openTask(alice, _salt(1), USER_FUNDS); // a large task is about to settle

        // attacker front-runs the settlement with a huge stake ...
        vm.prank(attacker);
        far.stake(100_000_000 ether);
        uint256 unlock = far.unlockTime(attacker);
        assertEq(unlock, block.timestamp + LOCK);
        _complete(_taskId(alice, 1), node1, USER_FUNDS, 80);

        // ... and tries to back-run it with an unstake: locked, in the same block and until the end of the lock
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, unlock));
        vm.prank(attacker);
        far.unstake(100_000_000 ether);
        vm.warp(unlock - 1);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, unlock));
        vm.prank(attacker);
        far.unstake(1);
        // re-staking a dust amount to "refresh" does not help either: it restarts the lock
        vm.prank(attacker);
        far.stake(1);
        vm.warp(unlock);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, unlock - 1 + LOCK));
        vm.prank(attacker);
        far.unstake(1);

        // the honest staker keeps a pro-rata share of the settlement and can claim it
        uint256 pool = USER_FUNDS / 5;
        uint256 bobShare = far.pendingRevenueShare(bob);
        // exact pro rata up to the index's rounding (< 1 wei per whole token staked)
        assertApproxEqAbs(bobShare, (pool * 1000 ether) / (100_000_000 ether + 1000 ether), 1001);
        vm.prank(bob);
        far.claimRewards();
        assertGe(far.balanceOf(bob), USER_FUNDS - 1000 ether + bobShare);
    }

    function test_Fix4_StakerShare_ProRataAndClaimable() public {
        _stake(alice, 100 ether);
        _stake(bob, 300 ether);
        _openTask(carol, _salt(1), 100 ether);
        _complete(_taskId(carol, 1), node1, 100 ether, 80); // 20 FAR to stakers

        assertEq(far.pendingRevenueShare(alice), 5 ether);
        assertEq(far.pendingRevenueShare(bob), 15 ether);
        (, uint256 aliceShare) = far.claimable(alice);
        assertEq(aliceShare, 5 ether);

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueShareClaimed(alice, 5 ether);
        vm.prank(alice);
        far.claimRewards();
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueShareClaimed(bob, 15 ether);
        vm.prank(bob);
        far.claimRewards();

        assertEq(far.balanceOf(alice), USER_FUNDS - 100 ether + 5 ether);
        assertEq(far.balanceOf(bob), USER_FUNDS - 300 ether + 15 ether);
        assertEq(far.undistributedRevenue(), 0);
        assertEq(far.balanceOf(address(far)), far.totalStaked());
    }

    /// A staker who left before a settlement gets nothing from it; one who stayed gets all.
    function test_Fix4_StakerShare_OnlyStakeAtSettlementCounts() public {
        _stake(alice, 100 ether);
        _stake(bob, 100 ether);
        vm.warp(block.timestamp + LOCK);
        vm.prank(alice);
        far.unstake(100 ether);
        _openTask(carol, _salt(1), 50 ether);
        _complete(_taskId(carol, 1), node1, 50 ether, 80);
        assertEq(far.pendingRevenueShare(alice), 0);
        assertEq(far.pendingRevenueShare(bob), 10 ether);
    }

    function test_Fix4_StakerShare_NothingStakedGoesToTreasury() public {
        assertEq(far.totalStaked(), 0);
        _openTask(alice, _salt(1), 100 ether);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(_taskId(alice, 1), alice, node1, 100 ether, 60 ether, 0, 40 ether, 0, 80);
        _complete(_taskId(alice, 1), node1, 100 ether, 80);
        assertEq(far.balanceOf(treasury), 40 ether);
        assertEq(far.balanceOf(address(far)), 0);
        assertEq(far.undistributedRevenue(), 0);
    }

    // =====================================================================================
    // Fix 5 - no stuck funds: the spec had no way out for a task never completed.
    // =====================================================================================

    function test_Fix5_NoStuckFunds_UnsettledTaskCancelledAfterTimeout() public {
        _openTask(alice, _salt(1), 250 ether);
        uint256 expiresAt = block.timestamp + TIMEOUT;
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TaskNotExpired.selector, _taskId(alice, 1), expiresAt));
        vm.prank(alice);
        pay.cancelTask(_taskId(alice, 1));

        vm.warp(expiresAt);
        vm.prank(alice);
        pay.cancelTask(_taskId(alice, 1));
        vm.prank(alice);
        pay.withdraw(250 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS);
        assertEq(far.balanceOf(address(pay)), 0);

        // a late settlement cannot charge the refunded escrow
        vm.expectRevert(
            abi.encodeWithSelector(
                InferencePayment.TaskNotOpen.selector, _taskId(alice, 1), InferencePayment.TaskStatus.Cancelled
            )
        );
        _complete(_taskId(alice, 1), node1, 250 ether, 80);
    }

    function test_Fix5_NoStuckFunds_FailedTaskRefundedInFull() public {
        _openTask(alice, _salt(1), 250 ether);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(_taskId(alice, 1), alice, node2, 250 ether, true);
        vm.prank(oracle);
        pay.failTask(_taskId(alice, 1), node2);
        assertEq(pay.userBalances(alice), 250 ether);
        vm.prank(alice);
        pay.withdraw(250 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS);
        // and no double refund
        vm.warp(block.timestamp + TIMEOUT);
        vm.expectRevert(
            abi.encodeWithSelector(
                InferencePayment.TaskNotOpen.selector, _taskId(alice, 1), InferencePayment.TaskStatus.Cancelled
            )
        );
        vm.prank(alice);
        pay.cancelTask(_taskId(alice, 1));
    }

    /// Whatever happens to a set of tasks, every user can eventually get every unspent FAR out.
    function testFuzz_Fix5_NoStuckFunds_EveryoneCanExit(uint256 seed) public {
        address[3] memory users = [alice, bob, carol];
        uint256 spent;
        for (uint256 i = 0; i < 9; i++) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            address u = users[i % 3];
            uint256 escrow = bound(r, 1, 1000 ether);
            _openTask(u, _salt(i), escrow);
            uint256 fate = (r >> 200) % 3;
            if (fate == 0) {
                uint256 cost = bound(r >> 64, 0, escrow);
                _complete(_taskId(users[i % 3], i), node1, cost, bound(r >> 128, 0, 100));
                spent += cost;
            } else if (fate == 1) {
                vm.prank(oracle);
                pay.failTask(_taskId(users[i % 3], i), node2);
            } // else left open: cancelled after the timeout below
        }
        vm.warp(block.timestamp + TIMEOUT);
        for (uint256 i = 0; i < 9; i++) {
            if (_status(_taskId(users[i % 3], i)) == InferencePayment.TaskStatus.Created) {
                vm.prank(users[i % 3]);
                pay.cancelTask(_taskId(users[i % 3], i));
            }
        }
        for (uint256 i = 0; i < 3; i++) {
            uint256 b = pay.userBalances(users[i]);
            if (b > 0) {
                vm.prank(users[i]);
                pay.withdraw(b);
            }
        }
        assertEq(far.balanceOf(address(pay)), 0);
        assertEq(pay.totalEscrowed(), 0);
        assertEq(
            far.balanceOf(alice) + far.balanceOf(bob) + far.balanceOf(carol), 3 * USER_FUNDS - spent, "only costs spent"
        );
    }

    // =====================================================================================
    // Fix 6 - batch settlement: many tasks in one transaction, same money as one by one.
    // =====================================================================================

    struct Totals {
        uint256 node1;
        uint256 node2;
        uint256 treasury;
        uint256 pool;
        uint256 undistributed;
        uint256 aliceBal;
        uint256 bobBal;
        uint256 payBal;
        uint256 escrowed;
        uint256 node1Earned;
        uint256 node1Done;
        uint256 node1Rel;
        uint256 node2Earned;
        uint256 node2Done;
        uint256 node2Rel;
        uint256 node1Failed;
        uint256 node2Failed;
        uint256 stakerShare;
    }

    function _totals() internal view returns (Totals memory x) {
        x.node1 = far.balanceOf(node1);
        x.node2 = far.balanceOf(node2);
        x.treasury = far.balanceOf(treasury);
        x.pool = far.balanceOf(address(far));
        x.undistributed = far.undistributedRevenue();
        x.aliceBal = pay.userBalances(alice);
        x.bobBal = pay.userBalances(bob);
        x.payBal = far.balanceOf(address(pay));
        x.escrowed = pay.totalEscrowed();
        (, x.node1Earned, x.node1Done, x.node1Rel,, x.node1Failed) = pay.nodes(node1);
        (, x.node2Earned, x.node2Done, x.node2Rel,, x.node2Failed) = pay.nodes(node2);
        x.stakerShare = far.pendingRevenueShare(carol);
    }

    function _assertSameTotals(Totals memory a, Totals memory b) internal pure {
        assertEq(a.node1, b.node1, "node1 paid");
        assertEq(a.node2, b.node2, "node2 paid");
        assertEq(a.treasury, b.treasury, "treasury paid");
        assertEq(a.pool, b.pool, "stakers paid");
        assertEq(a.undistributed, b.undistributed, "undistributed");
        assertEq(a.aliceBal, b.aliceBal, "alice refund");
        assertEq(a.bobBal, b.bobBal, "bob refund");
        assertEq(a.payBal, b.payBal, "payment balance");
        assertEq(a.escrowed, b.escrowed, "escrowed");
        assertEq(a.node1Earned, b.node1Earned);
        assertEq(a.node1Done, b.node1Done);
        assertEq(a.node1Rel, b.node1Rel);
        assertEq(a.node2Earned, b.node2Earned);
        assertEq(a.node2Done, b.node2Done);
        assertEq(a.node2Rel, b.node2Rel);
        assertEq(a.node1Failed, b.node1Failed, "node1 failures");
        assertEq(a.node2Failed, b.node2Failed, "node2 failures");
        // the staker's claim can differ by the index's rounding dust only: under 1 wei per whole
        // staked token per distribution (carol stakes < 20k FAR, batches have <= 20 tasks)
        assertApproxEqAbs(a.stakerShare, b.stakerShare, 20_000 * 20, "staker share");
    }

    function _openMany(uint256 n, uint256 seed) internal returns (InferencePayment.Settlement[] memory s) {
        s = new InferencePayment.Settlement[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 escrow = bound(r, 1, 10_000 ether);
            bytes32 id = _openTask(i % 2 == 0 ? alice : bob, _salt(i), escrow);
            s[i] = InferencePayment.Settlement(
                id, i % 3 == 0 ? node2 : node1, bound(r >> 64, 0, escrow), bound(r >> 128, 0, 100)
            );
        }
    }

    /// Closes the tasks of `s` one call each, then, from the same state, in one batch call: the
    /// totals after each way, and the logs each emitted.
    function _singlesThenBatch(
        InferencePayment.Settlement[] memory s,
        function(InferencePayment.Settlement memory) internal closeOne,
        function(InferencePayment.Settlement[] memory) internal closeAll
    ) internal returns (Totals memory singles, Totals memory batch, Vm.Log[] memory singleLogs, Vm.Log[] memory batchLogs) {
        uint256 snap = vm.snapshotState();
        vm.recordLogs();
        vm.startPrank(oracle);
        for (uint256 i = 0; i < s.length; i++) {
            closeOne(s[i]);
        }
        vm.stopPrank();
        singleLogs = vm.getRecordedLogs();
        singles = _totals();

        vm.revertToState(snap);
        vm.recordLogs();
        vm.prank(oracle);
        closeAll(s);
        batchLogs = vm.getRecordedLogs();
        batch = _totals();
    }

    function _completeOne(InferencePayment.Settlement memory s) internal {
        pay.completeTask(s.taskId, s.node, s.actualCost, s.performanceScore);
    }

    function _completeAll(InferencePayment.Settlement[] memory s) internal {
        pay.completeTasks(s);
    }

    function _failOne(InferencePayment.Settlement memory s) internal {
        pay.failTask(s.taskId, s.node);
    }

    function _failAll(InferencePayment.Settlement[] memory s) internal {
        pay.failTasks(_failuresOf(s));
    }

    function _batchEqualsSingles(uint256 n, uint256 seed) internal {
        _stake(carol, 12_345 ether);
        InferencePayment.Settlement[] memory s = _openMany(n, seed);
        (Totals memory singles, Totals memory batch,,) = _singlesThenBatch(s, _completeOne, _completeAll);

        _assertSameTotals(singles, batch);
        assertEq(batch.escrowed, 0);
        for (uint256 i = 0; i < n; i++) {
            assertTrue(_status(s[i].taskId) == InferencePayment.TaskStatus.Completed);
        }
    }

    function test_Fix6_BatchSettlement_SameTotalsAsSingles() public {
        _batchEqualsSingles(8, 42);
    }

    function testFuzz_Fix6_BatchSettlement_SameTotalsAsSingles(uint256 n, uint256 seed) public {
        _batchEqualsSingles(bound(n, 1, 12), seed);
    }

    /// A batch replayed (e.g. after a partial reorg) pays nothing twice: settled and cancelled
    /// tasks are skipped with SettlementSkipped and the open ones are settled.
    function test_Fix6_BatchSettlement_SkipsAlreadySettled() public {
        _stake(carol, 1000 ether);
        InferencePayment.Settlement[] memory s = _openMany(4, 7);
        vm.prank(oracle);
        pay.completeTasks(s);
        Totals memory afterFirst = _totals();

        // replay the same batch: everything is skipped, nothing moves
        for (uint256 i = 0; i < 4; i++) {
            vm.expectEmit(true, false, false, true, address(pay));
            emit InferencePayment.SettlementSkipped(s[i].taskId, InferencePayment.TaskStatus.Completed);
        }
        vm.recordLogs();
        vm.prank(oracle);
        pay.completeTasks(s);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 4, "only the four SettlementSkipped events");
        _assertSameTotals(afterFirst, _totals());

        // mixed batch: one cancelled, one settled, one open
        _openTask(alice, _salt(100), 10 ether);
        _openTask(alice, _salt(101), 10 ether);
        vm.prank(oracle);
        pay.failTask(_taskId(alice, 100), node1);
        InferencePayment.Settlement[] memory m = new InferencePayment.Settlement[](3);
        m[0] = InferencePayment.Settlement(_taskId(alice, 100), node1, 10 ether, 80);
        m[1] = s[0];
        m[2] = InferencePayment.Settlement(_taskId(alice, 101), node1, 10 ether, 80);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(_taskId(alice, 100), InferencePayment.TaskStatus.Cancelled);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(s[0].taskId, InferencePayment.TaskStatus.Completed);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(_taskId(alice, 101), alice, node1, 10 ether, 6 ether, 2 ether, 2 ether, 0, 80);
        vm.prank(oracle);
        pay.completeTasks(m);
        assertEq(pay.userBalances(alice), afterFirst.aliceBal + 10 ether); // the failed task's refund only
    }

    /// The failures of the tasks `_openMany` opened, blaming the nodes it chose.
    function _failuresOf(InferencePayment.Settlement[] memory s)
        internal
        pure
        returns (InferencePayment.Failure[] memory f)
    {
        f = new InferencePayment.Failure[](s.length);
        for (uint256 i = 0; i < s.length; i++) {
            f[i] = InferencePayment.Failure(s[i].taskId, s[i].node);
        }
    }

    /// failTasks has exactly failTask's effects one task after another: the same events in the
    /// same order, the same balances, escrow and node counters.
    function _failBatchEqualsSingles(uint256 n, uint256 seed) internal {
        InferencePayment.Settlement[] memory s = _openMany(n, seed);
        (Totals memory singles, Totals memory batch, Vm.Log[] memory singleLogs, Vm.Log[] memory batchLogs) =
            _singlesThenBatch(s, _failOne, _failAll);

        _assertSameTotals(singles, batch);
        assertEq(singleLogs.length, n, "one TaskCancelled per task");
        assertEq(batchLogs.length, n, "one TaskCancelled per task");
        for (uint256 i = 0; i < n; i++) {
            assertEq(keccak256(abi.encode(batchLogs[i])), keccak256(abi.encode(singleLogs[i])), "same event");
            assertTrue(_status(s[i].taskId) == InferencePayment.TaskStatus.Cancelled);
        }
        assertEq(pay.totalEscrowed(), 0);
        assertEq(singles.node1Failed + singles.node2Failed, n);
    }

    function test_Fix6_BatchFailure_SameEffectsAsSingles() public {
        _failBatchEqualsSingles(8, 42);
    }

    function testFuzz_Fix6_BatchFailure_SameEffectsAsSingles(uint256 n, uint256 seed) public {
        _failBatchEqualsSingles(bound(n, 1, 12), seed);
    }

    /// Settlement and failure batches naming the same tasks: each closes only the tasks still
    /// open, so no task is both paid and refunded, whichever batch lands first or is replayed.
    function test_Fix6_BatchFailure_MixedWithSettlements() public {
        _stake(carol, 1000 ether);
        InferencePayment.Settlement[] memory all = _openMany(6, 11);
        uint256 escrowed = pay.totalEscrowed();
        InferencePayment.Settlement[] memory firstHalf = new InferencePayment.Settlement[](3);
        uint256 costs;
        for (uint256 i = 0; i < 3; i++) {
            firstHalf[i] = all[i];
            costs += all[i].actualCost;
        }
        vm.prank(oracle);
        pay.completeTasks(firstHalf);
        uint256 held = far.balanceOf(address(pay));
        assertEq(held, escrowed - costs);

        // failing all six: the settled half is skipped, the open half refunded in full
        for (uint256 i = 0; i < 6; i++) {
            (address user,, uint256 escrow,,) = pay.tasks(all[i].taskId);
            if (i < 3) {
                vm.expectEmit(true, false, false, true, address(pay));
                emit InferencePayment.SettlementSkipped(all[i].taskId, InferencePayment.TaskStatus.Completed);
            } else {
                vm.expectEmit(true, true, true, true, address(pay));
                emit InferencePayment.TaskCancelled(all[i].taskId, user, all[i].node, escrow, true);
            }
        }
        vm.prank(oracle);
        pay.failTasks(_failuresOf(all));
        Totals memory afterFailures = _totals();

        // settling all six afterwards, or failing them again, moves nothing
        vm.recordLogs();
        vm.startPrank(oracle);
        pay.completeTasks(all);
        pay.failTasks(_failuresOf(all));
        vm.stopPrank();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 12, "only SettlementSkipped events");
        for (uint256 i = 0; i < logs.length; i++) {
            assertEq(logs[i].topics[0], InferencePayment.SettlementSkipped.selector);
        }
        _assertSameTotals(afterFailures, _totals());

        assertEq(pay.totalEscrowed(), 0);
        assertEq(far.balanceOf(address(pay)), held, "a refund stays inside the contract");
        assertEq(pay.totalUserBalances(), held, "every open escrow came back to its user");
        assertEq(afterFailures.node1Done + afterFailures.node2Done, 3);
        assertEq(afterFailures.node1Failed + afterFailures.node2Failed, 3);
    }

    /// Gas per task, single vs batched, on identical state. Execution gas only: a single
    /// settlement per transaction would also pay 21k intrinsic gas each, so the real gap is wider.
    function test_Fix6_BatchSettlement_CheaperPerTask() public {
        uint256 n = 20;
        _stake(carol, 1000 ether);
        InferencePayment.Settlement[] memory s = _openMany(n, 99);
        uint256 snap = vm.snapshotState();

        // batch first, so any slot left warm by the snapshot revert favours the singles
        vm.prank(oracle);
        uint256 g0 = gasleft();
        pay.completeTasks(s);
        uint256 batchGas = g0 - gasleft();

        vm.revertToState(snap);
        uint256 singleGas;
        vm.startPrank(oracle);
        for (uint256 i = 0; i < n; i++) {
            uint256 g = gasleft();
            pay.completeTask(s[i].taskId, s[i].node, s[i].actualCost, s[i].performanceScore);
            singleGas += g - gasleft();
        }
        vm.stopPrank();

        emit log_named_uint("gas per task, single", singleGas / n);
        emit log_named_uint("gas per task, batch", batchGas / n);
        assertLt(batchGas, singleGas, "batch must be cheaper per task");
    }
}
